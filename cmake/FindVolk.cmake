# Debian's libvulkan-volk-dev ships only volk.c and volk.h. Build them into a static library;
# VK_NO_PROTOTYPES keeps every Vulkan symbol behind volk's function pointers, so nothing
# links libvulkan and the loader is opened at run time.
find_path(Volk_INCLUDE_DIR NAMES volk.h volk.c)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(Volk REQUIRED_VARS Volk_INCLUDE_DIR)
if(Volk_FOUND AND NOT TARGET volk::volk)
  add_library(bcvk_volk STATIC ${Volk_INCLUDE_DIR}/volk.c)
  target_include_directories(bcvk_volk SYSTEM PUBLIC ${Volk_INCLUDE_DIR})
  target_compile_definitions(bcvk_volk PUBLIC VK_NO_PROTOTYPES)
  target_link_libraries(bcvk_volk PUBLIC Vulkan::Headers ${CMAKE_DL_LIBS})
  add_library(volk::volk ALIAS bcvk_volk)
endif()
