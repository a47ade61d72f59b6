#include "net/callback_signature.hpp"

#include <gtest/gtest.h>

using namespace paycoord::net;

// Expected value from an independent implementation (Python's hmac module):
// hmac.new(b"Jefe", b"what do ya want. for nothing?", hashlib.sha256).
TEST(callback_signature, is_hex_hmac_sha256_over_timestamp_dot_body) {
  EXPECT_EQ(callback_signature("Jefe", "what do ya want", " for nothing?"),
            "v1=ab2065b8987c48983f47a32020a95286d05c7938720abf8bfec9274ac25ed450");
}

TEST(callback_signature, verifies_only_the_exact_signature) {
  auto sig = callback_signature("secret", "1795658400", R"({"a":1})");
  EXPECT_TRUE(verify_callback_signature("secret", "1795658400", R"({"a":1})", sig));
  EXPECT_FALSE(verify_callback_signature("other", "1795658400", R"({"a":1})", sig));
  EXPECT_FALSE(verify_callback_signature("secret", "1795658401", R"({"a":1})", sig));
  EXPECT_FALSE(verify_callback_signature("secret", "1795658400", R"({"a":2})", sig));
  EXPECT_FALSE(verify_callback_signature("secret", "1795658400", R"({"a":1})",
                                         sig.substr(0, sig.size() - 1)));
  EXPECT_FALSE(verify_callback_signature("secret", "1795658400", R"({"a":1})", ""));
}
