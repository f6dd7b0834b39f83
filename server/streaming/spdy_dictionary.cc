#include "server/streaming/spdy_dictionary.h"

#include <array>
#include <cstdint>
#include <string>

namespace cricket::streaming::spdy {
namespace {

// SPDY/3 draft §2.6.10.1: the dictionary is the concatenation of these header names and values, each
// preceded by its length as a 32-bit big-endian integer, followed by a fixed tail of status codes, dates
// and common values (no length prefixes).
constexpr std::array kPrefixedWords = {"options",
                                       "head",
                                       "post",
                                       "put",
                                       "delete",
                                       "trace",
                                       "accept",
                                       "accept-charset",
                                       "accept-encoding",
                                       "accept-language",
                                       "accept-ranges",
                                       "age",
                                       "allow",
                                       "authorization",
                                       "cache-control",
                                       "connection",
                                       "content-base",
                                       "content-encoding",
                                       "content-language",
                                       "content-length",
                                       "content-location",
                                       "content-md5",
                                       "content-range",
                                       "content-type",
                                       "date",
                                       "etag",
                                       "expect",
                                       "expires",
                                       "from",
                                       "host",
                                       "if-match",
                                       "if-modified-since",
                                       "if-none-match",
                                       "if-range",
                                       "if-unmodified-since",
                                       "last-modified",
                                       "location",
                                       "max-forwards",
                                       "pragma",
                                       "proxy-authenticate",
                                       "proxy-authorization",
                                       "range",
                                       "referer",
                                       "retry-after",
                                       "server",
                                       "te",
                                       "trailer",
                                       "transfer-encoding",
                                       "upgrade",
                                       "user-agent",
                                       "vary",
                                       "via",
                                       "warning",
                                       "www-authenticate",
                                       "method",
                                       "get",
                                       "status",
                                       "200 OK",
                                       "version",
                                       "HTTP/1.1",
                                       "url",
                                       "public",
                                       "set-cookie",
                                       "keep-alive",
                                       "origin"};

constexpr const char* kTail =
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Una"
    "uthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service"
    " UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, "
    "Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,application/xml,applicat"
    "ion/xhtml+xml,text/plain,text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf"
    "-8charset=iso-8859-1,utf-,*,enq=0.";

std::string BuildDictionary() {
  std::string dict;
  for (std::string_view word : kPrefixedWords) {
    const uint32_t n = word.size();
    dict.push_back(static_cast<char>(n >> 24));
    dict.push_back(static_cast<char>(n >> 16));
    dict.push_back(static_cast<char>(n >> 8));
    dict.push_back(static_cast<char>(n));
    dict.append(word);
  }
  dict.append(kTail);
  return dict;
}

}  // namespace

std::string_view HeaderDictionary() {
  static const std::string* const dict = new std::string(BuildDictionary());
  return *dict;
}

}  // namespace cricket::streaming::spdy
