/// @file
/// examples/comet as a child process, and the small clients the end-to-end
/// tests talk to it with (tests/examples/).
#pragma once

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "support/child_process.hpp"
#include "support/test_client.hpp"

namespace libactor::test {


/// A comet process on a free port; the port is read from its `listening`
/// log line, as a user or a script would.
struct comet_process {
  explicit comet_process(std::vector<std::string> extra = {}) : proc(args(std::move(extra)), true) {
    // What comet said before its address, to show why it did not start.
    std::string said;
    std::optional<std::string> line;
    // comet's own `listening` line (written at every log level), not the
    // HTTP server's earlier `http_server_started`: only after it does
    // /metrics answer (before, it says 503 "starting").
    while ((line = proc.read_line()) && line->find("event=listening ") == std::string::npos)
      said += *line + "\n";
    INFO("comet wrote before failing to start: " << said);
    REQUIRE(line);
    // e.g. "... event=listening address=127.0.0.1:41234 port=41234 ..."
    auto at = line->find("port=");
    REQUIRE(at != std::string::npos);
    port = static_cast<std::uint16_t>(std::stoul(line->substr(at + 5)));
    proc.discard_output();
  }

  /// Two I/O threads unless `extra` says how many; port 0 unless it names one.
  static std::vector<std::string> args(std::vector<std::string> extra) {
    std::vector<std::string> argv{LIBACTOR_COMET, "--heartbeat", "0"};
    if (std::find(extra.begin(), extra.end(), "--port") == extra.end())
      argv.insert(argv.end(), {"--port", "0"});
    if (std::find(extra.begin(), extra.end(), "--threads") == extra.end())
      argv.insert(argv.end(), {"--threads", "2"});
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  }

  child_process proc;
  std::uint16_t port = 0;
};

inline http_reply request(std::uint16_t port, const std::string& method, const std::string& path,
                   const std::string& body = {}) {
  test_client c{port};
  c.send(method + " " + path + " HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: "
         + std::to_string(body.size()) + "\r\n\r\n" + body);
  auto r = c.read_reply();
  REQUIRE(r);
  return *r;
}

/// One `GET /stream/<user>` connection, past its welcome chunk.
struct stream {
  stream(std::uint16_t port, std::string who) : user(std::move(who)), c(port) {
    c.send("GET /stream/" + user + " HTTP/1.1\r\nHost: t\r\n\r\n");
    auto head = c.read_until("\r\n\r\n");
    REQUIRE(head);
    REQUIRE(head->find("Transfer-Encoding: chunked") != std::string::npos);
    REQUIRE(c.read_chunk() == std::optional<std::string>{"welcome " + user + "\n"});
  }
  std::string user;
  test_client c;
};

/// The value of an unlabelled metric line "name value".
inline std::string metric(const std::string& text, const std::string& name) {
  auto at = text.find("\n" + name + " ");
  if (at == std::string::npos)
    return "missing";
  auto start = at + name.size() + 2;
  return text.substr(start, text.find('\n', start) - start);
}


} // namespace libactor::test
