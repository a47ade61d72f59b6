#include "net/http/reply_slot.hpp"

#include <boost/asio/post.hpp>

#include "net/http/session.hpp"

namespace paycoord::net::detail {

void reply_slot::deliver(http_response response, reply_origin origin) {
  auto owner = session_.lock();
  if (!owner)
    return;
  auto executor = owner->executor();
  asio::post(executor, [owner = std::move(owner), seq = seq_, response = std::move(response),
                        origin]() mutable { owner->on_reply(seq, std::move(response), origin); });
}

} // namespace paycoord::net::detail
