// The zlib dictionary of SPDY/3 header blocks (draft-mbelshe-httpbis-spdy-00 §2.6.10.1): 1423 bytes,
// adler32 0xe3c6a7c2. Both directions of a connection prime their zlib streams with it.
#pragma once

#include <string_view>

namespace cricket::streaming::spdy {

std::string_view HeaderDictionary();

}  // namespace cricket::streaming::spdy
