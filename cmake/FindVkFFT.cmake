# VkFFT is header-only (Debian: libvkfft-dev, /usr/include/vkFFT.h).
find_path(VkFFT_INCLUDE_DIR NAMES vkFFT.h)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(VkFFT REQUIRED_VARS VkFFT_INCLUDE_DIR)
