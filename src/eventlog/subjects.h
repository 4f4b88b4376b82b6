// NATS subjects of the JetStream backend (docs/CLUSTER.md).
//
//   STREAM.<app>.<table>.<id>   a write to a record: creates, updates,
//                               deletes. One subject per record, so JetStream
//                               can check the record's last sequence.
//   STREAM.<app>.<table>        a publish to a table or record topic: it
//                               changes no record and orders against nothing.
//
// Each part is one subject token: bytes outside [A-Za-z0-9_-] are written
// %XX (upper-case hex), so ids with '.', '*', '>', spaces or UTF-8 are safe.
#ifndef EVENTIDE_SRC_EVENTLOG_SUBJECTS_H_
#define EVENTIDE_SRC_EVENTLOG_SUBJECTS_H_

#include <string>
#include <string_view>

namespace eventide::eventlog {

// Appends `part` as one subject token.
void AppendSubjectToken(std::string_view part, std::string* out);

// The subject of a write (`id` non-empty) or a publish (`id` empty).
std::string WriteSubject(std::string_view stream, std::string_view app, std::string_view table,
                         std::string_view id);

// What the stream must hold: "STREAM.>".
std::string StreamSubjects(std::string_view stream);

}  // namespace eventide::eventlog

#endif  // EVENTIDE_SRC_EVENTLOG_SUBJECTS_H_
