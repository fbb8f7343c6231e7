# Warnings apply to bcvk's own targets only (volk.c and third-party headers are not ours).
# -Wno-missing-field-initializers: `VkFooInfo info{VK_STRUCTURE_TYPE_FOO_INFO};` is the Vulkan
# idiom; the language zero-initializes the remaining members, which is what we want.
function(bcvk_target_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                                           -Wno-missing-field-initializers)
endfunction()
