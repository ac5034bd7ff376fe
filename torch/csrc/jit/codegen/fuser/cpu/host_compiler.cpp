#include "torch/csrc/jit/codegen/fuser/cpu/host_compiler.h"

#include "torch/csrc/jit/codegen/fuser/background_compiler.h"
#include "torch/csrc/jit/codegen/fuser/compile_environment.h"
#include "torch/csrc/jit/codegen/fuser/disk_cache.h"
#include "torch/csrc/jit/codegen/fuser/options.h"

#include <c10/util/Exception.h>
#include <c10/util/hash.h>

#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <vector>

namespace torch_fuser {
namespace cpu {
namespace {

// Flags every kernel is built with. -ffp-contract=off keeps a*b+c two roundings, as in
// eager; -fno-math-errno lets math calls vectorize (libmvec) and sqrt inline. It also
// lets GCC fold sin(atan(x)) and cos(atan(x)) algebraically (NaN -> 1 / 0): the
// preamble calls atan through a name that is no builtin. Audited with every pair f(g(x))
// of the unary math functions on special values at -O3 vs -O0, and kept so by
// test_special_values.cpp; no -ffast-math family flag is used: even -fno-trapping-math
// changes values (GCC then folds (float)(int)x into truncf(x), -0 for x in (-1, 0) where
// eager has +0; fuzz seed 1425869).
//
// x86: at most AVX2 (-mno-avx512f). GCC 13.3 on AVX-512VL hosts guards the divisions of
// if-converted selects with mask registers and got a lane's mask wrong (fuzz seed 1455460:
// where/div/le over a runtime power of two chunks gave 0 for 1; reproduced outside the
// fuser; right with -mno-avx512f or -mno-avx512vl). Kernels prefer 256-bit vectors on those
// hosts anyway, so AVX2 code is what the fuzzers exercise on every machine.
const char* const kCompileFlags[] = {"-O3",
                                     "-std=c++17",
                                     "-fPIC",
                                     "-shared",
                                     "-march=native",
#if defined(__x86_64__)
                                     "-mno-avx512f",
#endif
                                     "-fno-math-errno",
                                     "-ffp-contract=off",
                                     "-w"};
#if defined(__x86_64__) && defined(__GLIBC__)
// libmvec: the vector math the preamble declares (see cpu_preamble.h).
const char* const kLinkLibraries[] = {"-lmvec", "-lm"};
#else
const char* const kLinkLibraries[] = {"-lm"};
#endif

// A private directory (mkdtemp makes it 0700) removed with its files on destruction.
class TempDir {
 public:
  explicit TempDir(const CompileEnvironment& env) {
    const std::string base = env.value("TMPDIR");
    std::string pattern = (base.empty() ? std::string("/tmp") : base) + "/torch_fuser_XXXXXX";
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    TORCH_CHECK(::mkdtemp(buffer.data()) != nullptr,
                "torch_fuser: cannot create a temp directory from ", pattern, ": ",
                std::strerror(errno));
    path_ = buffer.data();
  }
  ~TempDir() {
    if (keep_) return;
    if (DIR* dir = ::opendir(path_.c_str())) {
      while (const dirent* entry = ::readdir(dir)) {
        const std::string name = entry->d_name;
        if (name != "." && name != "..") ::unlink((path_ + "/" + name).c_str());
      }
      ::closedir(dir);
    }
    ::rmdir(path_.c_str());
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  void keep() { keep_ = true; }

 private:
  std::string path_;
  bool keep_ = false;
};

std::vector<std::string> splitWords(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> words;
  for (std::string word; in >> word;) words.push_back(word);
  return words;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void writeFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  TORCH_CHECK(out.good(), "torch_fuser: cannot write ", path);
}

std::string joined(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& arg : argv) out += (out.empty() ? "" : " ") + arg;
  return out;
}

// The compiler's environment: ours, without what makes a process load torch_fuser (a
// program adopted through LD_PRELOAD would preload it, and libtorch, into every compiler
// process, and print its stats at their exits into the compiler's output).
std::vector<std::string> compilerEnvironment(const CompileEnvironment& env) {
  std::vector<std::string> out;
  for (const std::string& var : env.variables()) {
    if (var.rfind("TORCH_FUSER_ENABLE=", 0) == 0 ||
        var.rfind("TORCH_FUSER_STATS_AT_EXIT=", 0) == 0) {
      continue;
    }
    if (var.rfind("LD_PRELOAD=", 0) == 0) {
      std::string kept;
      std::istringstream libraries(var.substr(std::strlen("LD_PRELOAD=")));
      std::string library;
      while (libraries >> library) {  // separated by spaces or colons
        for (char& c : library) c = c == ':' ? ' ' : c;
        std::istringstream parts(library);
        std::string part;
        while (parts >> part) {
          if (part.find("torch_fuser") == std::string::npos)
            kept += (kept.empty() ? "" : " ") + part;
        }
      }
      if (!kept.empty()) out.push_back("LD_PRELOAD=" + kept);
      continue;
    }
    out.push_back(var);
  }
  return out;
}

// `name` as a path: itself when it has a slash, else the first executable of that name in
// the snapshot's PATH (posix_spawnp would read the live environment's), else itself (the
// spawn then fails with ENOENT).
std::string executablePath(const std::string& name, const CompileEnvironment& env) {
  if (name.find('/') != std::string::npos) return name;
  std::string path = env.value("PATH");
  if (path.empty()) path = "/bin:/usr/bin";
  std::istringstream dirs(path);
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + name;
    struct stat info;
    if (::stat(candidate.c_str(), &info) == 0 && S_ISREG(info.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return name;
}

// Runs argv[0] (searched in the snapshot's PATH) with stdout+stderr into `log_path`, in
// the snapshot's environment; returns its exit status, or throws when it cannot start.
int runProcess(const std::vector<std::string>& argv, const std::string& log_path,
               const CompileEnvironment& env) {
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = 0;
  std::vector<std::string> environment = compilerEnvironment(env);
  std::vector<char*> envp;
  for (std::string& var : environment) envp.push_back(&var[0]);
  envp.push_back(nullptr);
  const std::string executable = executablePath(argv[0], env);
  const int spawn_error =
      posix_spawn(&pid, executable.c_str(), &actions, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  TORCH_CHECK(spawn_error == 0, "torch_fuser: cannot run the C++ compiler '", argv[0],
              "': ", std::strerror(spawn_error), " (set CXX to a working compiler)");

  int status = 0;
  ForkAllowed fork_allowed;  // the wait holds no lock of this process
  while (::waitpid(pid, &status, 0) < 0) {
    TORCH_CHECK(errno == EINTR, "torch_fuser: waitpid failed: ", std::strerror(errno));
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

// What the compiler says it is (`<command> --version`), once per command; "" if it
// cannot be run (then nothing is cached: the compile itself will report the problem).
// The lock is not held while the compiler runs: a fork() meanwhile (a background compile
// of a process that forks) must not leave the child a mutex no thread will release. Two
// threads may both ask the compiler; they get the same answer. Never destroyed, like
// hostCpuSignature's: a background compile may still run while the process exits
// (background_compiler.h).
std::string compilerIdentity(const std::vector<std::string>& command,
                             const CompileEnvironment& env) {
  static auto* mutex = new std::mutex();
  static auto* identities = new std::map<std::vector<std::string>, std::string>();
  {
    std::lock_guard<std::mutex> guard(*mutex);
    auto it = identities->find(command);
    if (it != identities->end()) return it->second;
  }
  std::string identity;
  try {
    TempDir dir(env);
    const std::string log = dir.path() + "/version.log";
    std::vector<std::string> argv = command;
    argv.emplace_back("--version");
    if (runProcess(argv, log, env) == 0) identity = readFile(log);
  } catch (const c10::Error&) {
    identity.clear();
  }
  std::lock_guard<std::mutex> guard(*mutex);
  identities->emplace(command, identity);
  return identity;
}

// The host CPU's model and feature flags: kernels are built with -march=native, so a
// cache shared between machines must not hand one CPU's binary to another.
const std::string& hostCpuSignature() {
  static const std::string* signature = new std::string([] {
    std::ifstream in("/proc/cpuinfo");
    std::string line, out;
    while (std::getline(in, line)) {
      if (line.rfind("model name", 0) == 0 || line.rfind("flags", 0) == 0) out += line + "\n";
      if (line.empty() && !out.empty()) break;  // the first processor is enough
    }
    return out;
  }());
  return *signature;
}

// The disk-cache key of `source` built by `argv` (the compiler `command` and the flags,
// no paths).
std::string cacheKey(const std::string& source, const std::vector<std::string>& command,
                     const CompileEnvironment& env, const std::vector<std::string>& argv) {
  const std::string identity = compilerIdentity(command, env);
  if (identity.empty()) return "";
  std::string material =
      std::string("torch_fuser ") + TORCH_FUSER_VERSION + "\n" + identity + hostCpuSignature();
  for (const std::string& arg : argv) material += arg + "\n";
  for (const char* lib : kLinkLibraries) material += std::string(lib) + "\n";
  material += source;
  return c10::sha1(material).str();
}

}  // namespace

LoadedLibrary::~LoadedLibrary() {
  if (handle_) ::dlclose(handle_);
}

void* LoadedLibrary::symbol(const char* name) const {
  void* address = ::dlsym(handle_, name);
  TORCH_CHECK(address != nullptr, "torch_fuser: symbol ", name, " missing from a compiled kernel");
  return address;
}

std::unique_ptr<LoadedLibrary> compileAndLoad(const std::string& source,
                                              const CompileEnvironment& env) {
  const int debug = debugLevel();
  const std::string cxx = env.value("CXX");
  std::vector<std::string> command = splitWords(cxx.empty() ? std::string("c++") : cxx);
  TORCH_CHECK(!command.empty(), "torch_fuser: CXX is set but empty");
  // Resolved once: the compiler's identity (and so the cache key) is that of the file run.
  command[0] = executablePath(command[0], env);
  std::vector<std::string> argv = command;
  for (const char* flag : kCompileFlags) argv.emplace_back(flag);
  for (std::string& flag : splitWords(env.value("TORCH_FUSER_CXXFLAGS"))) {
    argv.push_back(std::move(flag));
  }

  const c10::optional<std::string> cache_dir = diskCacheDirectory(env);
  const std::string key = cache_dir ? cacheKey(source, command, env, argv) : std::string();
  if (!key.empty()) {
    if (const c10::optional<std::string> cached = findCacheEntry(*cache_dir, key + ".so")) {
      if (void* handle = ::dlopen(cached->c_str(), RTLD_NOW | RTLD_LOCAL)) {
        stats().disk_cache_hits++;
        if (debug >= 2) std::cerr << "[torch_fuser] loaded " << *cached << " from the disk cache\n";
        return std::make_unique<LoadedLibrary>(handle);
      }
    }
  }

  TempDir dir(env);
  const std::string cpp = dir.path() + "/kernel.cpp";
  const std::string so = dir.path() + "/kernel.so";
  const std::string log = dir.path() + "/compile.log";
  writeFile(cpp, source);
  argv.insert(argv.end(), {"-o", so, cpp});
  for (const char* lib : kLinkLibraries) argv.emplace_back(lib);
  if (debug >= 2) {
    dir.keep();
    std::cerr << "[torch_fuser] compile: " << joined(argv) << "\n";
  }

  const auto start = std::chrono::steady_clock::now();
  const int status = runProcess(argv, log, env);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (debug >= 2) {
    std::cerr << "[torch_fuser] compiled in " << seconds << " s; files kept in " << dir.path()
              << "\n";
  }
  if (status != 0) {
    dir.keep();  // the message points at the source
    TORCH_CHECK(false, "torch_fuser: kernel compilation failed (exit status ", status,
                ").\ncommand: ", joined(argv), "\nsource: ", cpp, "\ncompiler output:\n",
                readFile(log));
  }

  stats().kernels_compiled++;
  stats().compile_nanoseconds += static_cast<int64_t>(seconds * 1e9);

  void* handle = ::dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL);
  TORCH_CHECK(handle != nullptr, "torch_fuser: cannot load the compiled kernel ", so, ": ",
              ::dlerror());
  if (!key.empty() && !storeCacheEntry(*cache_dir, key + ".so", readFile(so)) && debug >= 1) {
    std::cerr << "[torch_fuser] could not store the kernel in the disk cache " << *cache_dir
              << "\n";
  }
  return std::make_unique<LoadedLibrary>(handle);
}

}  // namespace cpu
}  // namespace torch_fuser
