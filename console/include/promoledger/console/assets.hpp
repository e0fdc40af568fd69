#pragma once
// The browser console's files, embedded at build time (console/CMakeLists.txt): the pages' templates,
// console.js and console.css, Chart.js and Bootstrap's CSS. The service serves the assets and fills
// the templates in (service/src/console_routes.cpp); nothing is read from disk or the network at run time.
//
// Thread safety: immutable after the first call; safe from any thread.

#include <string_view>

namespace promoledger::console {

struct Asset {
  std::string_view name;          // "assets/console.js", or a template's name ("campaigns.html")
  std::string_view content_type;  // with its charset
  std::string_view etag;          // the quoted SHA-256 of the bytes: a strong validator
  std::string_view body;
};

// The asset of that name, or nullptr.
const Asset* find(std::string_view name);

}  // namespace promoledger::console
