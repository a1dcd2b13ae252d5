/// @file
/// The mailbox element a registry enqueues: the routed message
/// `(routed_atom, id, payload)` as any handler sees it, plus a tag naming the
/// registration it was delivered for. The tag never reaches the handler; it
/// lets the registry find, when a process exits, which of the messages still
/// waiting in its mailbox it delivered for which key, and hand those back to
/// the key (a process may hold several keys, and may have been sent routed
/// messages by other means).
#pragma once

#include <cstdint>
#include <string>

#include <caf/detail/tuple_vals.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/message.hpp>

#include "libactor/routed.hpp"

namespace libactor::detail {

/// Which registry (its state's address) and which registration (a serial
/// number unique within that registry) a message was delivered for.
struct routed_tag {
  const void* registry = nullptr;
  std::uint64_t registration = 0;

  friend bool operator==(const routed_tag& x, const routed_tag& y) noexcept {
    return x.registry == y.registry && x.registration == y.registration;
  }
};

/// Common base of the two forms below, found with `dynamic_cast` when a
/// process exits (only then: delivery never looks at it).
class routed_element : public caf::mailbox_element {
public:
  explicit routed_element(routed_tag tag)
    : caf::mailbox_element(nullptr, caf::make_message_id(), {}), tag_(tag) {
  }

  const routed_tag& tag() const noexcept { return tag_; }

  /// The message as data (the payload copied: the element is still in the
  /// mailbox and may share it with other processes' elements).
  virtual routed_message get() const = 0;

private:
  routed_tag tag_;
};

/// One process's own message: the values inline, one allocation per message
/// as `anon_send` makes (the common case, one process per key). The atom is
/// stored as its value, as CAF's own elements store atom constants.
class routed_element_vals final
  : public routed_element,
    public caf::detail::tuple_vals_impl<caf::type_erased_tuple, caf::atom_value, message_id, std::string> {
public:
  using tuple_base =
    caf::detail::tuple_vals_impl<caf::type_erased_tuple, caf::atom_value, message_id, std::string>;

  routed_element_vals(routed_tag tag, message_id id, std::string payload)
    : routed_element(tag), tuple_base(routed_atom::value, id, std::move(payload)) {
  }

  caf::type_erased_tuple& content() override { return *this; }
  const caf::type_erased_tuple& content() const override { return *this; }

  caf::message move_content_to_message() override {
    auto& xs = this->data();
    return caf::make_message(routed_atom::value, std::get<1>(xs), std::move(std::get<2>(xs)));
  }

  caf::message copy_content_to_message() const override {
    auto& xs = this->data();
    return caf::make_message(routed_atom::value, std::get<1>(xs), std::get<2>(xs));
  }

  routed_message get() const override {
    auto& xs = this->data();
    return routed_message{std::get<1>(xs), std::get<2>(xs)};
  }
};

/// A message shared by the several processes of one key.
class routed_element_shared final : public routed_element {
public:
  routed_element_shared(routed_tag tag, caf::message msg)
    : routed_element(tag), msg_(std::move(msg)) {
  }

  caf::type_erased_tuple& content() override { return msg_; }
  const caf::type_erased_tuple& content() const override { return msg_.content(); }
  caf::message move_content_to_message() override { return std::move(msg_); }
  caf::message copy_content_to_message() const override { return msg_; }

  routed_message get() const override {
    return routed_message{msg_.get_as<message_id>(1), msg_.get_as<std::string>(2)};
  }

private:
  caf::message msg_;
};

} // namespace libactor::detail
