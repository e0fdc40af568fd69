#include "service_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>

#include <fmt/format.h>

extern char** environ;

namespace promoledger::testing {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

namespace {
std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
}  // namespace

ServiceProcess::~ServiceProcess() {
  if (pid_ > 0 && !exit_code_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  if (out_fd_ >= 0) ::close(out_fd_);
}

std::string ServiceProcess::start(const std::string& bin, const std::vector<std::string>& args,
                                  const std::filesystem::path& stderr_file, std::chrono::milliseconds ready_within) {
  stderr_file_ = stderr_file;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return "pipe2 failed";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_addopen(&actions, 2, stderr_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<std::string> all{bin};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int rc = ::posix_spawn(&pid_, bin.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  out_fd_ = fds[0];
  if (rc != 0) {
    pid_ = -1;
    return fmt::format("posix_spawn {}: {}", bin, std::strerror(rc));
  }
  const auto deadline = Steady::now() + ready_within;
  std::string out;
  while (out.find('\n') == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Steady::now()).count();
    if (left <= 0) return "no 'listening on' line within the time; stderr: " + stderr_text();
    pollfd p{out_fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    char buf[256];
    const ssize_t n = ::read(out_fd_, buf, sizeof buf);
    if (n <= 0) return "the service closed stdout before listening; stderr: " + stderr_text();
    out.append(buf, static_cast<std::size_t>(n));
  }
  first_line_ = out.substr(0, out.find('\n'));
  const std::string prefix = "promoledger serve: listening on ";
  if (first_line_.rfind(prefix, 0) != 0) return "unexpected first line: " + first_line_;
  const auto colon = first_line_.rfind(':');
  port_ = std::atoi(first_line_.c_str() + colon + 1);
  if (port_ <= 0) return "no port in: " + first_line_;
  return "";
}

void ServiceProcess::sigterm() const { ::kill(pid_, SIGTERM); }
void ServiceProcess::sigkill() const { ::kill(pid_, SIGKILL); }

std::optional<int> ServiceProcess::wait_exit(std::chrono::milliseconds within) {
  const auto deadline = Steady::now() + within;
  while (!exit_code_) {
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      break;
    }
    if (Steady::now() > deadline) break;
    std::this_thread::sleep_for(10ms);
  }
  return exit_code_;
}

std::string ServiceProcess::stderr_text() const { return read_file(stderr_file_); }

}  // namespace promoledger::testing
