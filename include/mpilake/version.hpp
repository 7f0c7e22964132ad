#pragma once
#include <string_view>

namespace mpilake {
inline constexpr std::string_view kVersion = "0.1.0";
}
