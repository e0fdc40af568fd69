#include "cli_runner.hpp"

#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <iterator>

namespace promoledger::testing {

std::optional<std::string> promoledger_bin() {
  const char* bin = std::getenv("PROMOLEDGER_BIN");
  if (bin == nullptr || *bin == '\0') return std::nullopt;
  return std::string(bin);
}

std::string shell_quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

CliRunner::CliRunner(std::string bin, std::string conninfo, std::filesystem::path scratch)
    : bin_(std::move(bin)), conninfo_(std::move(conninfo)), scratch_(std::move(scratch)) {
  std::filesystem::create_directories(scratch_);
}

CliRunner::~CliRunner() {
  std::error_code ignored;  // a leftover scratch directory is harmless; a throwing destructor is not
  std::filesystem::remove_all(scratch_, ignored);
}

CliRun CliRunner::run(const std::vector<std::string>& args, bool json) const { return run_command(args, json, false); }

CliRun CliRunner::run_merged(const std::vector<std::string>& args) const { return run_command(args, false, true); }

int CliRunner::run_shell(const std::string& command_line) {
  const int status = std::system(command_line.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string CliRunner::file(const std::string& name, const std::string& content) const {
  const auto path = scratch_ / name;
  std::ofstream(path) << content;
  return path.string();
}

CliRun CliRunner::run_command(const std::vector<std::string>& args, bool json, bool merged) const {
  std::string cmd = shell_quote(bin_) + " --db " + shell_quote(conninfo_) + (json ? " --json" : "");
  for (const auto& a : args) cmd += " " + shell_quote(a);
  const auto out_file = scratch_ / "out.txt";
  const auto err_file = scratch_ / "err.txt";
  cmd += " >" + shell_quote(out_file.string()) + (merged ? " 2>&1" : " 2>" + shell_quote(err_file.string()));
  std::filesystem::remove(err_file);
  CliRun r;
  r.exit_code = run_shell(cmd);
  r.out = slurp(out_file);
  r.err = merged ? std::string() : slurp(err_file);
  return r;
}

}  // namespace promoledger::testing
