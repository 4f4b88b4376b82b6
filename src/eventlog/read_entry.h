// Reading one entry of the local copy back, for an apply side that has not
// got it in memory.
#ifndef EVENTIDE_SRC_EVENTLOG_READ_ENTRY_H_
#define EVENTIDE_SRC_EVENTLOG_READ_ENTRY_H_

#include <memory>
#include <string>

#include "wal/log.h"

namespace eventide::eventlog {

// Copies the durable entry at `p` into *payload, using (and creating) the
// reader in *reader: sequential calls cost one Next each, a jump one Seek.
Status ReadLocalEntry(wal::Log* log, wal::Position p, std::unique_ptr<wal::Reader>* reader,
                      std::string* payload);

}  // namespace eventide::eventlog

#endif  // EVENTIDE_SRC_EVENTLOG_READ_ENTRY_H_
