// The persistent cache of compiled CPU kernels: a second process running the same model
// loads its kernels instead of compiling them.
//
// Location: $TORCH_FUSER_CACHE_DIR, else $XDG_CACHE_HOME/torch_fuser, else
// ~/.cache/torch_fuser; off with TORCH_FUSER_DISABLE_DISK_CACHE=1. The directory must be
// ours: created 0700 when missing, refused (with one warning) when it is not a directory,
// not owned by this user, or writable by group or others.
// Entries: <key>.so, where the key hashes everything the binary depends on (source,
// compiler command and identity, flags, host CPU, torch_fuser version). Each file ends in
// a trailer holding its length and SHA-1, checked before loading, so a truncated or
// corrupted entry is rebuilt, never loaded. Writes go to a temp file in the directory and
// are renamed into place, so concurrent processes never see a partial entry.
#pragma once

#include <c10/util/Optional.h>

#include <string>

namespace torch_fuser {
namespace cpu {

// The usable cache directory, or nullopt (off, or unusable: warned once per path).
c10::optional<std::string> diskCacheDirectory();

// The path of a verified entry for `key`, or nullopt (missing or corrupt).
c10::optional<std::string> findCachedKernel(const std::string& directory, const std::string& key);

// Stores the shared object at `so_path` as the entry for `key`; returns false (and leaves
// the cache as it was) on any I/O failure.
bool storeCachedKernel(const std::string& directory, const std::string& key,
                       const std::string& so_path);

}  // namespace cpu
}  // namespace torch_fuser
