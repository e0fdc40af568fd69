#pragma once
// The promoledger command as a user runs it: the built binary ($PROMOLEDGER_BIN, set by scripts/test.sh)
// against one test database, with its exit code and its output captured. One home for every suite that
// runs the command (cli_test, finance_test).
//
// Thread safety: a CliRunner runs one command at a time (its capture files are fixed names in its
// directory); give each concurrent caller its own directory.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace promoledger::testing {

struct CliRun {
  int exit_code = -1;  // -1 when the command did not exit normally (a signal)
  std::string out;
  std::string err;
};

// $PROMOLEDGER_BIN, or nullopt when it is unset or empty (the caller's test then fails and says so).
std::optional<std::string> promoledger_bin();

// 'text' for /bin/sh, with embedded single quotes escaped.
std::string shell_quote(const std::string& text);

// The whole content of a file ("" when it cannot be read).
std::string slurp(const std::filesystem::path& path);

class CliRunner {
 public:
  // bin: the promoledger binary; conninfo: passed as --db; scratch: a directory for the captured output
  // (created here, removed by the destructor).
  CliRunner(std::string bin, std::string conninfo, std::filesystem::path scratch);
  ~CliRunner();
  CliRunner(const CliRunner&) = delete;
  CliRunner& operator=(const CliRunner&) = delete;

  // `bin --db CONNINFO [--json] ARGS...`, stdout and stderr captured apart.
  CliRun run(const std::vector<std::string>& args, bool json = false) const;
  // The same with stderr written into out, as a terminal shows both (golden files); err stays empty.
  CliRun run_merged(const std::vector<std::string>& args) const;
  // Any command line for /bin/sh (already quoted), for cases outside the one database (exit code only).
  static int run_shell(const std::string& command_line);

  const std::string& bin() const { return bin_; }
  const std::filesystem::path& scratch() const { return scratch_; }
  // Writes a file in the scratch directory and returns its path.
  std::string file(const std::string& name, const std::string& content) const;

 private:
  CliRun run_command(const std::vector<std::string>& args, bool json, bool merged) const;

  std::string bin_;
  std::string conninfo_;
  std::filesystem::path scratch_;
};

}  // namespace promoledger::testing
