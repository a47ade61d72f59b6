#include "actors/messages.hpp"

#include <spdlog/spdlog.h>

namespace paycoord {

void register_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_types<caf::id_block::paycoord>();
  cfg.add_error_category(store_error_category,
                         [](uint8_t code, caf::atom_value,
                            const caf::message& context) {
                           std::string result = "store: ";
                           if (context.match_elements<std::string>())
                             return result + context.get_as<std::string>(0);
                           return result
                                  + to_string(static_cast<store_errc>(code));
                         });
}

caf::scheduled_actor::default_handler log_unexpected(const char* actor_name) {
  return [actor_name](caf::scheduled_actor*, caf::message_view& x)
           -> caf::result<caf::message> {
    spdlog::warn("event=unexpected_message actor={} message={}", actor_name,
                 caf::to_string(x.content()));
    return caf::sec::unexpected_message;
  };
}

caf::error make_error(const store_error& x) {
  return caf::error{static_cast<uint8_t>(x.code), store_error_category,
                    caf::make_message(x.to_string())};
}

} // namespace paycoord
