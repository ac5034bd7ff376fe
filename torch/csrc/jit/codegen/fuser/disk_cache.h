// The persistent cache of compiled kernels, for every backend (CPU shared objects, CUDA
// cubins and PTX): a second process running the same model loads its kernels instead of
// compiling them.
//
// Location: $TORCH_FUSER_CACHE_DIR, else $XDG_CACHE_HOME/torch_fuser, else
// ~/.cache/torch_fuser; off with TORCH_FUSER_DISABLE_DISK_CACHE=1. The directory must be
// ours: created 0700 when missing, refused (with one warning) when it is not a directory,
// not owned by this user, or writable by group or others.
// Entries: <key><extension> (.so, .cubin, .ptx), where the backend's key hashes everything
// the binary depends on (source, compiler and its version, flags, target, torch_fuser
// version). Each file ends in
// a trailer holding its length and SHA-1, checked before loading, so a truncated or
// corrupted entry is rebuilt, never loaded. Writes go to a temp file in the directory and
// are renamed into place, so concurrent processes never see a partial entry.
#pragma once

#include <c10/util/Optional.h>

#include <string>

namespace torch_fuser {

class CompileEnvironment;

// The usable cache directory `env` configures, or nullopt (off, or unusable: warned once
// per path).
c10::optional<std::string> diskCacheDirectory(const CompileEnvironment& env);

// The path of the verified entry `name` (key and extension), or nullopt (missing or
// corrupt). The file is the payload followed by the trailer, which a loader of ELF
// objects ignores.
c10::optional<std::string> findCacheEntry(const std::string& directory, const std::string& name);

// The payload of the verified entry `name`, or nullopt (missing or corrupt).
c10::optional<std::string> readCacheEntry(const std::string& directory, const std::string& name);

// Stores `payload` as the entry `name`; returns false (and leaves the cache as it was) on
// any I/O failure.
bool storeCacheEntry(const std::string& directory, const std::string& name, std::string payload);

}  // namespace torch_fuser
