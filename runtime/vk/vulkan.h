// The one way bcvk includes Vulkan: through volk, so no symbol binds to libvulkan at link time.
#pragma once

#ifndef VK_NO_PROTOTYPES
#define VK_NO_PROTOTYPES
#endif
#include <volk.h>
