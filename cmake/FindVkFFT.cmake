# VkFFT is header-only (Debian: libvkfft-dev, /usr/include/vkFFT.h).  Provides bcvk::vkfft: a
# copy of the header patched for glslang 12 (cmake/patch_vkfft.cmake) plus glslang's libraries.
# Needs find_package(Threads) and find_package(glslang) first.
find_path(VkFFT_INCLUDE_DIR NAMES vkFFT.h)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(VkFFT REQUIRED_VARS VkFFT_INCLUDE_DIR)
if(VkFFT_FOUND AND NOT TARGET bcvk::vkfft)
  # Included as <vkfft_patched/vkFFT.h>: a unique path, so the unpatched header in a system or
  # sysroot include directory can never be picked up instead, whatever the include order.
  set(_vkfft_root "${CMAKE_BINARY_DIR}/generated")
  set(_vkfft_dir "${_vkfft_root}/vkfft_patched")
  file(MAKE_DIRECTORY "${_vkfft_dir}")
  add_custom_command(
    OUTPUT "${_vkfft_dir}/vkFFT.h"
    COMMAND ${CMAKE_COMMAND} -DIN=${VkFFT_INCLUDE_DIR}/vkFFT.h -DOUT=${_vkfft_dir}/vkFFT.h
            -P ${CMAKE_CURRENT_LIST_DIR}/patch_vkfft.cmake
    DEPENDS "${VkFFT_INCLUDE_DIR}/vkFFT.h" "${CMAKE_CURRENT_LIST_DIR}/patch_vkfft.cmake"
    COMMENT "Patching vkFFT.h for glslang 12")
  add_custom_target(bcvk_vkfft_header DEPENDS "${_vkfft_dir}/vkFFT.h")
  add_library(bcvk_vkfft INTERFACE)
  add_dependencies(bcvk_vkfft bcvk_vkfft_header)
  target_include_directories(bcvk_vkfft SYSTEM INTERFACE "${_vkfft_root}")
  target_compile_definitions(bcvk_vkfft INTERFACE VKFFT_BACKEND=0)
  target_link_libraries(bcvk_vkfft INTERFACE glslang::glslang glslang::SPIRV Threads::Threads)
  add_library(bcvk::vkfft ALIAS bcvk_vkfft)
endif()
