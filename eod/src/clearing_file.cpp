#include "promoledger/eod/clearing_file.hpp"

#include <iconv.h>

#include <cerrno>
#include <memory>
#include <stdexcept>

#include <fmt/format.h>

#include "internal.hpp"
#include "promoledger/ledger/names.hpp"

namespace promoledger::eod {
namespace {

constexpr ledger::NameTable<Profile, 3> profile_names{{
    {Profile::platform, "platform"},
    {Profile::wechat, "wechat"},
    {Profile::alipay, "alipay"},
}};
static_assert(ledger::names_every_value(profile_names));  // every value named once (ledger/names.hpp)

struct IconvCloser {
  void operator()(void* cd) const { iconv_close(static_cast<iconv_t>(cd)); }
};

// Converts with glibc's iconv; returns the converted text, or the offset of the first byte it could not
// convert.
std::pair<std::string, std::optional<std::size_t>> convert(const char* to, const char* from, std::string_view in) {
  iconv_t cd = iconv_open(to, from);
  if (cd == reinterpret_cast<iconv_t>(-1)) throw std::runtime_error(fmt::format("iconv cannot convert {} to {}", from, to));
  std::unique_ptr<void, IconvCloser> guard(cd);
  std::string out;
  // GBK's two bytes become at most three in UTF-8 (and UTF-8's three at most two in GBK).
  out.resize(in.size() * 3 / 2 + 16);
  char* src = const_cast<char*>(in.data());  // iconv's interface takes char**; it does not write the input
  std::size_t src_left = in.size();
  char* dst = out.data();
  std::size_t dst_left = out.size();
  while (src_left > 0) {
    const std::size_t rc = iconv(cd, &src, &src_left, &dst, &dst_left);
    if (rc == static_cast<std::size_t>(-1)) {
      if (errno == E2BIG) {
        const std::size_t used = static_cast<std::size_t>(dst - out.data());
        out.resize(out.size() * 2);
        dst = out.data() + used;
        dst_left = out.size() - used;
        continue;
      }
      return {std::string(), static_cast<std::size_t>(src - in.data())};  // EILSEQ or EINVAL (cut in a character)
    }
  }
  out.resize(static_cast<std::size_t>(dst - out.data()));
  return {std::move(out), std::nullopt};
}

}  // namespace

std::string_view to_string(Profile p) { return ledger::name_of(profile_names, p); }
std::optional<Profile> profile_from_string(std::string_view text) { return ledger::value_named(profile_names, text); }

Expected<std::string, EodRefusal> gbk_to_utf8(std::string_view bytes) {
  auto [text, bad] = convert("UTF-8", "GBK", bytes);
  if (bad) {
    const std::size_t line = detail::line_of_offset(bytes, *bad);
    return unexpected(refuse(Code::wrong_encoding, fmt::format("line {}", line),
                             fmt::format("line {}: byte {} is not GBK (Alipay's 业务明细 is GBK-encoded)", line, *bad + 1)));
  }
  return std::move(text);
}

std::string utf8_to_gbk(std::string_view text) {
  auto [out, bad] = convert("GBK", "UTF-8", text);
  if (bad) throw std::runtime_error(fmt::format("text cannot be written in GBK (byte {})", *bad + 1));
  return std::move(out);
}

Expected<ClearingFile, EodRefusal> parse_clearing_file(Profile profile, std::string_view bytes, date::year_month_day day) {
  switch (profile) {
    case Profile::platform: return parse_platform_file(bytes, day);
    case Profile::wechat: return parse_wechat_file(bytes, day);
    case Profile::alipay: return parse_alipay_file(bytes, day);
  }
  return unexpected(refuse(Code::unknown_profile, "profile", "unknown profile"));
}

}  // namespace promoledger::eod
