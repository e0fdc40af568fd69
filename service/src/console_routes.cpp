// The browser console (docs/console.md): sign-in and sign-out, the pages, and their assets, served by
// the same process as the API. The pages are shells filled in on the server (who is signed in, the
// CSRF token, the navigation the role may use); their figures come from the API (/v1/...), read by
// console.js with the session cookie, so nothing is computed twice.
#include <array>
#include <map>
#include <string>
#include <string_view>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "promoledger/console/assets.hpp"
#include "routes.hpp"

namespace promoledger::service::detail {
namespace {

// Scripts and styles only from this service: an injected <script> or inline handler does not run.
constexpr const char* content_security_policy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

struct Page {
  const char* path;
  const char* templ;  // the console asset holding the page's <main>
  const char* title;
  const char* nav;    // its entry in the navigation; nullptr: reached from another page
  unsigned roles;
};
constexpr std::array<Page, 7> pages{{
    {"/console/campaigns", "campaigns.html", "Campaigns", "Campaigns", finance | auditor | operator_},
    {"/console/campaign", "campaign.html", "Campaign", nullptr, finance | auditor | operator_},
    {"/console/new-campaign", "new-campaign.html", "New campaign", "New campaign", operator_},
    {"/console/outlets", "outlets.html", "Outlets", "Outlets", finance | auditor},
    {"/console/trace", "trace.html", "Payment trace", "Payment trace", auditor},
    {"/console/verify", "verify.html", "Verify", "Verify", auditor},
    {"/console/reconciliation", "reconciliation.html", "Reconciliation", "Reconciliation", finance | auditor | operator_},
}};
constexpr const char* home = "/console/campaigns";
constexpr const char* sign_in_path = "/console/sign-in";

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

// Replaces each {{key}} of the template by its value, in one pass: a value is never scanned again, so
// text inside a value cannot inject another placeholder. Values are HTML already (escaped by the
// caller where they come from outside). An unknown key is a bug in a template: it fails loudly.
std::string fill(std::string_view templ, const std::map<std::string, std::string, std::less<>>& values) {
  std::string out;
  out.reserve(templ.size() + 256);
  std::size_t at = 0;
  for (;;) {
    const auto open = templ.find("{{", at);
    if (open == std::string_view::npos) break;
    const auto close = templ.find("}}", open + 2);
    if (close == std::string_view::npos) break;
    out.append(templ.substr(at, open - at));
    const auto key = templ.substr(open + 2, close - open - 2);
    const auto it = values.find(key);
    if (it == values.end()) throw std::logic_error(fmt::format("console template: no value for {{{{{}}}}}", key));
    out += it->second;
    at = close + 2;
  }
  out.append(templ.substr(at));
  return out;
}

const console::Asset& asset(std::string_view name) {
  const auto* found = console::find(name);
  if (found == nullptr) throw std::logic_error(fmt::format("console asset {} is not embedded", name));
  return *found;
}

void page_headers(Response& res) {
  res.set_header("Content-Security-Policy", content_security_policy);
  res.set_header("X-Frame-Options", "DENY");
  res.set_header("X-Content-Type-Options", "nosniff");
  // same-origin, not no-referrer: under no-referrer a browser sends "Origin: null" with a form POST,
  // which the sign-in check could not tell from another site's.
  res.set_header("Referrer-Policy", "same-origin");
  // A page holds the session's CSRF token and names the user: never kept by a cache.
  res.set_header("Cache-Control", "no-store");
}

void redirect(Response& res, const char* location) {
  res.status = 303;
  res.set_header("Location", location);
  res.set_header("Cache-Control", "no-store");
  res.set_content(fmt::format("See {}\n", location), "text/plain; charset=utf-8");
}

std::string session_cookie(const std::string& value, bool secure, bool clear) {
  // HttpOnly: no script reads it; SameSite=Strict: no other site's page sends it; Path=/: the pages and
  // the API both get it. No Max-Age: it ends with the browser, and the service ends it sooner.
  return fmt::format("{}={}; Path=/; HttpOnly; SameSite=Strict{}{}", SessionStore::cookie_name, value,
                     secure ? "; Secure" : "", clear ? "; Max-Age=0" : "");
}

std::string navigation(Role role, const char* current) {
  std::string out;
  for (const auto& p : pages) {
    if (p.nav == nullptr || (p.roles & bit(role)) == 0) continue;
    const bool here = std::string_view(p.path) == current;
    out += fmt::format(R"(<li class="nav-item"><a class="nav-link{}" href="{}"{}>{}</a></li>)", here ? " active" : "",
                       p.path, here ? R"( aria-current="page")" : "", p.nav);
  }
  return out;
}

void render_page(Response& res, int status, const Page& page, const Caller& caller, const std::string& main) {
  const std::string body = fill(asset("layout.html").body,
                                {{"title", html_escape(page.title)},
                                 {"page", html_escape(page.templ)},
                                 {"nav", navigation(caller.identity.role, page.path)},
                                 {"user", html_escape(caller.identity.name)},
                                 {"role", html_escape(to_string(caller.identity.role))},
                                 {"csrf", html_escape(caller.csrf)},
                                 {"main", main}});
  page_headers(res);
  res.status = status;
  res.set_content(body, "text/html; charset=utf-8");
}

void render_sign_in(Response& res, int status, const std::string& message) {
  const std::string block =
      message.empty() ? ""
                      : fmt::format(R"(<div class="alert alert-danger" id="sign-in-error" role="alert">{}</div>)",
                                    html_escape(message));
  page_headers(res);
  res.status = status;
  res.set_content(fill(asset("sign-in.html").body, {{"message", block}}), "text/html; charset=utf-8");
}

// A sign-in form posted from another site's page carries that site's Origin: refused. (Browsers send
// Origin on every POST; a client without one is not a browser, and needs a valid token anyway.)
bool same_origin(const Request& req, bool tls) {
  if (!req.has_header("Origin")) return true;
  return req.header("Origin") == fmt::format("{}://{}", tls ? "https" : "http", req.header("Host"));
}

}  // namespace

std::vector<Route> console_routes(Service& service) {
  const bool tls = service.options().tls_cert_file.has_value();
  TokenCache& tokens = service.tokens();
  SessionStore& sessions = service.sessions();
  std::vector<Route> routes;
  // Every console route runs on the I/O thread: tokens and sessions are in memory, pages are embedded.
  const auto add = [&routes](const char* method, const char* path, Handler handle) {
    routes.push_back(Route{method, path, anyone, Runs::io, std::move(handle), {}, false});
  };

  const auto to_home = [](const Request&, Response& res) { redirect(res, home); };
  add("GET", "/", to_home);
  add("GET", "/console", to_home);
  add("GET", "/console/", to_home);

  add("GET", "/console/assets/{name}", [](const Request& req, Response& res) {
    const std::string& name = req.path_params.at(0);
    const bool plain = !name.empty() && name.size() <= 64 &&
                       name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") ==
                           std::string::npos;
    const auto* found = plain ? console::find("assets/" + name) : nullptr;
    if (found == nullptr) return answer_error(res, 404, "not_found", "no such console asset");
    // Revalidated on each use (the binary may have been upgraded), answered 304 while unchanged.
    res.set_header("ETag", std::string(found->etag));
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Content-Type-Options", "nosniff");
    if (req.header("If-None-Match") == found->etag) {
      res.status = 304;
      return;
    }
    res.status = 200;
    res.set_content(std::string(found->body), std::string(found->content_type));
  });

  add("GET", sign_in_path, [](const Request&, Response& res) { render_sign_in(res, 200, ""); });

  add("POST", sign_in_path, [&tokens, &sessions, tls](const Request& req, Response& res) {
    if (!same_origin(req, tls)) {
      res.error = "cross_origin";
      return render_sign_in(res, 403, "Sign-in from another site's page is refused.");
    }
    const std::string token = req.param("token");
    const auto identity = token.empty() || token.size() > 128 ? std::nullopt : tokens.authenticate(token);
    if (!identity) {
      res.error = "unauthorized";
      return render_sign_in(res, 401, "That token is not valid (unknown, mistyped or revoked).");
    }
    res.token_name = identity->name;
    if (identity->role == Role::poster) {
      res.error = "forbidden";
      return render_sign_in(res, 403, "A poster token is for core banking, not for the console: sign in with a "
                                      "finance, auditor or operator token.");
    }
    // A sign-in replaces the browser's session, if it had one: a fresh id each time (no fixation), and
    // the old one does not linger until its idle expiry.
    const std::string previous = cookie_value(req.header("Cookie"), SessionStore::cookie_name);
    if (!previous.empty()) sessions.close(previous);
    const auto opened = sessions.open(token_hash(token));
    spdlog::info("console: {} ({}) signed in", identity->name, to_string(identity->role));
    res.set_header("Set-Cookie", session_cookie(opened.id, tls, false));
    redirect(res, home);
  });

  add("POST", "/console/sign-out", [&tokens, &sessions, tls](const Request& req, Response& res) {
    const std::string id = cookie_value(req.header("Cookie"), SessionStore::cookie_name);
    const auto caller = identify(req, tokens, sessions);
    if (caller && caller->by_session) {
      res.token_name = caller->identity.name;
      // A form cannot set a header: the sign-out form carries the CSRF token as a field.
      const std::string presented = req.has_param("csrf") ? req.param("csrf") : req.header("X-CSRF-Token");
      if (!same_secret(presented, caller->csrf)) {
        return answer_error(res, 403, "csrf_token_mismatch", "sign-out must carry the session's CSRF token");
      }
      sessions.close(id);
    }
    res.set_header("Set-Cookie", session_cookie("", tls, true));
    redirect(res, sign_in_path);
  });

  for (const auto& page : pages) {
    add("GET", page.path, [&page, &tokens, &sessions](const Request& req, Response& res) {
      const auto caller = identify(req, tokens, sessions);
      // Pages are for browsers: only a session opens them (a bearer token is for the API).
      if (!caller || !caller->by_session) {
        res.error = "unauthorized";
        return redirect(res, sign_in_path);
      }
      res.token_name = caller->identity.name;
      if ((page.roles & bit(caller->identity.role)) == 0) {
        res.error = "forbidden";
        return render_page(res, 403, page, *caller,
                           fmt::format(R"(<div class="alert alert-warning" id="forbidden">The {} role may not open {}.</div>)",
                                       html_escape(to_string(caller->identity.role)), html_escape(page.title)));
      }
      render_page(res, 200, page, *caller, std::string(asset(page.templ).body));
    });
  }
  return routes;
}

}  // namespace promoledger::service::detail
