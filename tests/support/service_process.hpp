#pragma once
// The real service process for the tests: `promoledger serve` spawned (posix_spawn) with stdout on a
// pipe and stderr in a file, ready once it prints its "listening on" line; killed (SIGKILL) and reaped
// when the helper goes out of scope unless it has exited.
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace promoledger::testing {

class ServiceProcess {
 public:
  ServiceProcess() = default;
  ServiceProcess(const ServiceProcess&) = delete;
  ServiceProcess& operator=(const ServiceProcess&) = delete;
  ~ServiceProcess();

  // Spawns `bin args...` and waits for its "listening on" line. Returns an empty string, or what
  // went wrong (with the process's stderr).
  std::string start(const std::string& bin, const std::vector<std::string>& args,
                    const std::filesystem::path& stderr_file,
                    std::chrono::milliseconds ready_within = std::chrono::seconds(20));

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::string& first_line() const { return first_line_; }
  void sigterm() const;
  void sigkill() const;
  // The exit code (128 + signal when killed) once the process ended within `within`.
  std::optional<int> wait_exit(std::chrono::milliseconds within);
  std::string stderr_text() const;

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int port_ = 0;
  std::string first_line_;
  std::filesystem::path stderr_file_;
  std::optional<int> exit_code_;
};

}  // namespace promoledger::testing
