#include "lib/common/path_util.h"

#include <vector>

#include "lib/common/strings.h"

namespace cricket {

std::string CleanPath(std::string_view path) {
  if (path.empty()) return ".";
  bool rooted = path.front() == '/';
  std::vector<std::string_view> out;
  for (std::string_view part : Split(path, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!out.empty() && out.back() != "..") {
        out.pop_back();
      } else if (!rooted) {
        out.push_back(part);
      }
      continue;
    }
    out.push_back(part);
  }
  std::string joined = Join(out, "/");
  if (rooted) return "/" + joined;
  return joined.empty() ? "." : joined;
}

std::string JoinPath(std::string_view base, std::string_view rel) {
  std::string s(base);
  s.push_back('/');
  s.append(rel);
  return CleanPath(s);
}

std::string LexicalJoinInRoot(std::string_view root, std::string_view unsafe) {
  // Cleaning "/" + unsafe clamps every ".." at the top.
  std::string inner = CleanPath("/" + std::string(unsafe));
  if (inner == "/") return CleanPath(root);
  return CleanPath(std::string(root) + inner);
}

std::string DirName(std::string_view path) {
  std::string clean = CleanPath(path);
  size_t slash = clean.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return clean.substr(0, slash);
}

std::string BaseName(std::string_view path) {
  std::string clean = CleanPath(path);
  if (clean == "/") return "/";
  size_t slash = clean.rfind('/');
  return slash == std::string::npos ? clean : clean.substr(slash + 1);
}

}  // namespace cricket
