#include "actors/messages.hpp"

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

caf::error make_error(const store_error& x) {
  return caf::error{static_cast<uint8_t>(x.code), store_error_category,
                    caf::make_message(x.to_string())};
}

} // namespace paycoord
