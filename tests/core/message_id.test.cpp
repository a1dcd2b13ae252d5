// The text form of a message id (message_id.hpp): what a client sees in SSE
// `id:` and `X-Message-Id` and hands back in `Last-Event-ID`. A client's id
// is input like any other, so the parser takes exactly what to_string
// writes and nothing else.
#include "libactor/message_id.hpp"

#include <cstdint>
#include <limits>
#include <string>

#include <catch2/catch.hpp>

using libactor::message_id;
using libactor::parse_message_id;
using libactor::to_string;

namespace {

constexpr auto max64 = std::numeric_limits<std::uint64_t>::max();

} // namespace

TEST_CASE("a message id is written as 16 lowercase hex digits, a dash and the decimal seq",
          "[message_id]") {
  CHECK(to_string(message_id{0x9f3a0c21d4e7b815, 42}) == "9f3a0c21d4e7b815-42");
  // Small epochs keep their leading zeros: the length never varies.
  CHECK(to_string(message_id{1, 1}) == "0000000000000001-1");
  CHECK(to_string(message_id{max64, max64}) == "ffffffffffffffff-18446744073709551615");
}

TEST_CASE("a message id reads back as the id that was written", "[message_id]") {
  auto id = GENERATE(message_id{0x9f3a0c21d4e7b815, 42}, message_id{1, 1},
                     message_id{max64, max64}, message_id{0x0123456789abcdef, 1'000'000},
                     message_id{0xa000000000000000, 10});
  auto text = to_string(id);
  CAPTURE(text);
  CHECK(parse_message_id(text) == id);
}

TEST_CASE("a message id is read with the spaces and tabs an HTTP field value may carry",
          "[message_id]") {
  message_id id{0x9f3a0c21d4e7b815, 42};
  CHECK(parse_message_id(" 9f3a0c21d4e7b815-42") == id);
  CHECK(parse_message_id("9f3a0c21d4e7b815-42\t") == id);
  CHECK(parse_message_id(" \t 9f3a0c21d4e7b815-42 \t ") == id);
}

TEST_CASE("a message id is not read from anything to_string would not have written",
          "[message_id]") {
  auto text = GENERATE(as<std::string>{},
                       // empty, blank
                       "", " ", "\t \t",
                       // the old numeric ids
                       "42", "0",
                       // wrong lengths of the epoch
                       "9f3a0c21d4e7b81-42", "9f3a0c21d4e7b8150-42", "-42",
                       // no seq, no dash, dash elsewhere
                       "9f3a0c21d4e7b815-", "9f3a0c21d4e7b815", "9f3a0c21d4e7b81542",
                       "9f3a0c21d4e7b81-542", "9f3a0c21d4e7b815--42",
                       // uppercase and non-hex epochs
                       "9F3A0C21D4E7B815-42", "9f3a0c21d4e7b81F-42", "9f3a0c21d4e7b81g-42",
                       "0x3a0c21d4e7b815-42",
                       // signs
                       "9f3a0c21d4e7b815-+42", "9f3a0c21d4e7b815--1", "+f3a0c21d4e7b815-42",
                       "-f3a0c21d4e7b815-42",
                       // spaces and other bytes inside
                       "9f3a0c21 d4e7b815-42", "9f3a0c21d4e7b815 -42", "9f3a0c21d4e7b815- 42",
                       "9f3a0c21d4e7b815-4 2", "9f3a0c21d4e7b815-4\t2",
                       std::string{"9f3a0c21d4e7b815-4\0" "2", 20}, "9f3a0c21d4e7b815-42x",
                       "9f3a0c21d4e7b815-4.2", "9f3a0c21d4e7b815-1e3",
                       // seq beyond 64 bits: 21 digits, and 20 digits past the maximum
                       "9f3a0c21d4e7b815-100000000000000000000",
                       "9f3a0c21d4e7b815-18446744073709551616",
                       "9f3a0c21d4e7b815-99999999999999999999",
                       // epoch 0 is "no id"
                       "0000000000000000-5", "0000000000000000-0");
  CAPTURE(text);
  CHECK_FALSE(parse_message_id(text));
}

TEST_CASE("seq 0 reads back as the start of a history, a position that names no message",
          "[message_id]") {
  auto start = parse_message_id("9f3a0c21d4e7b815-0");
  REQUIRE(start);
  CHECK(start->position());
  CHECK_FALSE(start->valid());
  CHECK(to_string(*start) == "9f3a0c21d4e7b815-0");
  CHECK_FALSE(parse_message_id("9f3a0c21d4e7b815-00"));
}

TEST_CASE("a message id is valid only with an epoch and a seq", "[message_id]") {
  CHECK_FALSE(message_id{}.valid());
  CHECK_FALSE((message_id{0, 1}.valid()));
  CHECK_FALSE((message_id{1, 0}.valid()));
  CHECK((message_id{1, 1}.valid()));
  CHECK(message_id{1, 2} != message_id{2, 1});
  CHECK(message_id{3, 4} == message_id{3, 4});
}

TEST_CASE("a message id whose seq has leading zeros is not read", "[message_id]") {
  // to_string never writes them, and one id must have one text: a client
  // (or a cache keyed on the id) must not see two spellings of one message.
  CHECK_FALSE(parse_message_id("9f3a0c21d4e7b815-042"));
  CHECK_FALSE(parse_message_id("9f3a0c21d4e7b815-01"));
  CHECK_FALSE(parse_message_id("9f3a0c21d4e7b815-00"));
  CHECK(parse_message_id("9f3a0c21d4e7b815-10") == message_id{0x9f3a0c21d4e7b815, 10});
}
