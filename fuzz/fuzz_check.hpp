#pragma once
// Property checks for the fuzz targets: a failed property prints what was expected and aborts, which
// libFuzzer reports as a crash and saves the input for (unlike assert, this stays on under NDEBUG).

#include <cstdio>
#include <cstdlib>
#include <string_view>

#define FUZZ_CHECK(cond)                                                                     \
  do {                                                                                       \
    if (!(cond)) {                                                                           \
      std::fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond);       \
      std::abort();                                                                          \
    }                                                                                        \
  } while (false)

// Runs `body`; any exception escaping a parser is a bug (parsers report errors as values).
#define FUZZ_NO_THROW(...)                                                                   \
  do {                                                                                       \
    try {                                                                                    \
      __VA_ARGS__;                                                                           \
    } catch (const std::exception& fuzz_e_) {                                                \
      std::fprintf(stderr, "%s:%d: parser threw: %s\n", __FILE__, __LINE__, fuzz_e_.what()); \
      std::abort();                                                                          \
    } catch (...) {                                                                          \
      std::fprintf(stderr, "%s:%d: parser threw a non-std exception\n", __FILE__, __LINE__); \
      std::abort();                                                                          \
    }                                                                                        \
  } while (false)

namespace promoledger::fuzz {

inline std::string_view as_text(const unsigned char* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace promoledger::fuzz
