// One nghttp2 header field from two views, for whoever submits heads to
// libnghttp2 (the server's H2Session, eventide-load's client). nghttp2 copies
// the bytes on submit: the views need not outlive the call.
#ifndef EVENTIDE_SRC_HTTP_H2_NV_H_
#define EVENTIDE_SRC_HTTP_H2_NV_H_

#include <nghttp2/nghttp2.h>

#include <cstdint>
#include <string_view>

namespace eventide::http {

inline nghttp2_nv H2Nv(std::string_view name, std::string_view value) {
  nghttp2_nv nv;
  nv.name = reinterpret_cast<uint8_t*>(const_cast<char*>(name.data()));
  nv.namelen = name.size();
  nv.value = reinterpret_cast<uint8_t*>(const_cast<char*>(value.data()));
  nv.valuelen = value.size();
  nv.flags = NGHTTP2_NV_FLAG_NONE;
  return nv;
}

}  // namespace eventide::http

#endif  // EVENTIDE_SRC_HTTP_H2_NV_H_
