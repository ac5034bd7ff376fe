#include "torch/csrc/jit/codegen/fuser/disk_cache.h"

#include "torch/csrc/jit/codegen/fuser/compile_environment.h"
#include "torch/csrc/jit/codegen/fuser/options.h"

#include <c10/util/Exception.h>
#include <c10/util/hash.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <mutex>
#include <set>
#include <sstream>

namespace torch_fuser {
namespace {

constexpr char kMagic[8] = {'T', 'F', 'K', 'C', 'A', 'C', 'H', '1'};
constexpr size_t kDigestChars = 40;  // SHA-1, hex
constexpr size_t kTrailerBytes = sizeof(kMagic) + sizeof(uint64_t) + kDigestChars;

std::string configuredDirectory(const CompileEnvironment& env) {
  const std::string explicit_dir = env.value("TORCH_FUSER_CACHE_DIR");
  if (!explicit_dir.empty()) return explicit_dir;
  const std::string xdg = env.value("XDG_CACHE_HOME");
  if (!xdg.empty()) return xdg + "/torch_fuser";
  const std::string home = env.value("HOME");
  if (!home.empty()) return home + "/.cache/torch_fuser";
  return "";
}

// Creates `path` (0700) and its missing parents; true if it exists afterwards.
bool makeDirectories(const std::string& path) {
  if (path.empty()) return false;
  for (size_t slash = path.find('/', 1); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    ::mkdir(path.substr(0, slash).c_str(), 0755);  // parents: an existing one is fine
  }
  return ::mkdir(path.c_str(), 0700) == 0 || errno == EEXIST;
}

// Why `path` must not hold kernels we load into this process, or "".
std::string unsafeBecause(const std::string& path) {
  struct stat info;
  if (::lstat(path.c_str(), &info) != 0) return std::string("cannot stat: ") + std::strerror(errno);
  if (!S_ISDIR(info.st_mode)) return "not a directory (or a symbolic link)";
  if (info.st_uid != ::geteuid()) return "owned by another user";
  if (info.st_mode & (S_IWGRP | S_IWOTH)) return "writable by group or others";
  return "";
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string entryPath(const std::string& directory, const std::string& name) {
  return directory + "/" + name;
}

// The payload of an entry's `bytes` read from `path`, or nullopt when the trailer does not
// vouch for it.
c10::optional<std::string> verifiedPayload(const std::string& path, const std::string& bytes) {
  if (bytes.empty()) return c10::nullopt;
  auto corrupt = [&](const char* why) -> c10::optional<std::string> {
    if (debugLevel() >= 1) {
      std::cerr << "[torch_fuser] cache entry " << path << " is " << why << "; rebuilding it\n";
    }
    return c10::nullopt;
  };
  if (bytes.size() < kTrailerBytes) return corrupt("truncated");
  const size_t payload = bytes.size() - kTrailerBytes;
  if (std::memcmp(bytes.data() + payload, kMagic, sizeof(kMagic)) != 0)
    return corrupt("not an entry");
  uint64_t length = 0;
  std::memcpy(&length, bytes.data() + payload + sizeof(kMagic), sizeof(length));
  if (length != payload) return corrupt("truncated");
  const std::string digest(bytes.data() + payload + sizeof(kMagic) + sizeof(length), kDigestChars);
  std::string content = bytes.substr(0, payload);
  if (c10::sha1(content).str() != digest) return corrupt("corrupted");
  return content;
}

}  // namespace

c10::optional<std::string> diskCacheDirectory(const CompileEnvironment& env) {
  if (env.value("TORCH_FUSER_DISABLE_DISK_CACHE") == "1") return c10::nullopt;
  const std::string path = configuredDirectory(env);
  // Never destroyed: a background compile may still look here while the process exits.
  static auto* mutex = new std::mutex();
  static auto* good = new std::set<std::string>();
  static auto* refused = new std::set<std::string>();
  std::lock_guard<std::mutex> guard(*mutex);
  if (good->count(path)) return path;
  if (refused->count(path)) return c10::nullopt;
  std::string why = makeDirectories(path) ? unsafeBecause(path) : "cannot create it";
  if (path.empty()) why = "no directory configured (set TORCH_FUSER_CACHE_DIR)";
  if (why.empty()) {
    good->insert(path);
    return path;
  }
  refused->insert(path);
  TORCH_WARN("torch_fuser: not using the kernel cache directory '", path, "': ", why,
             "; kernels will be compiled in every process");
  return c10::nullopt;
}

c10::optional<std::string> findCacheEntry(const std::string& directory, const std::string& name) {
  const std::string path = entryPath(directory, name);
  if (!verifiedPayload(path, readFile(path))) return c10::nullopt;
  return path;
}

c10::optional<std::string> readCacheEntry(const std::string& directory, const std::string& name) {
  const std::string path = entryPath(directory, name);
  return verifiedPayload(path, readFile(path));
}

bool storeCacheEntry(const std::string& directory, const std::string& name, std::string payload) {
  if (payload.empty()) return false;
  const uint64_t length = payload.size();
  const std::string digest = c10::sha1(payload).str();
  std::string& bytes = payload;
  bytes.append(kMagic, sizeof(kMagic));
  bytes.append(reinterpret_cast<const char*>(&length), sizeof(length));
  bytes.append(digest);

  std::string temp = directory + "/." + name + ".XXXXXX";
  const int fd = ::mkstemp(&temp[0]);  // 0600
  if (fd < 0) return false;
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n <= 0) break;
    written += static_cast<size_t>(n);
  }
  const bool ok = written == bytes.size() && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(temp.c_str(), entryPath(directory, name).c_str()) != 0) {
    ::unlink(temp.c_str());
    return false;
  }
  return true;
}

}  // namespace torch_fuser
