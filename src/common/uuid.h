// Random (version 4) UUIDs for records created without an id (SPEC section 5).
#ifndef EVENTIDE_SRC_COMMON_UUID_H_
#define EVENTIDE_SRC_COMMON_UUID_H_

#include <string>

namespace eventide {

// "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx", lower-case hex, from OpenSSL's CSPRNG
// (ids are visible to other users, so they must not be guessable).
std::string NewUuidV4();

}  // namespace eventide

#endif  // EVENTIDE_SRC_COMMON_UUID_H_
