/// @file
/// The server under load: its address, and the one blocking connect the
/// parent makes before forking so that an unreachable server is one clear
/// line ("cannot connect to 127.0.0.1:8080: Connection refused"), not N
/// failed connections.
#pragma once

#include <chrono>
#include <string>

#include <vector>

#include <boost/asio/ip/tcp.hpp>

#include "options.hpp"

namespace floodtest {

/// `host` must be a numeric IPv4 address; empty string on success, else
/// the reason.
std::string resolve_target(const std::string& host, std::uint16_t port, boost::asio::ip::tcp::endpoint& out);

/// `--targets` ("ip:port,ip:port") if given, else `--host`/`--port`.
std::string resolve_targets(const options& opts, std::vector<boost::asio::ip::tcp::endpoint>& out);

/// Connects and closes with plain system calls (no io_context exists before
/// the fork); empty string on success, else "cannot connect to ...".
std::string probe(const boost::asio::ip::tcp::endpoint& target, std::chrono::nanoseconds timeout);

/// "127.0.0.1:8080", for messages and the Host header.
std::string to_string(const boost::asio::ip::tcp::endpoint& ep);

} // namespace floodtest
