// Fuzzes the alipay clearing-file parser (eod/src/profiles/alipay.cpp); the properties are in clearing_fuzz.hpp.
#include "clearing_fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  promoledger::fuzz::check_clearing_parser(promoledger::eod::Profile::alipay, data, size);
  return 0;
}
