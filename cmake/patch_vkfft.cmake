# cmake -P patch_vkfft.cmake IN=<vkFFT.h> OUT=<patched copy>
# vkFFT.h 1.2.26 fills glslang_resource_t positionally and predates the nine EXT mesh/task
# fields glslang 12 added after max_mesh_view_count_nv; insert values for them (glslang's own
# defaults) in the copy used by bcvk.  Fails loudly when the header has another shape.
file(READ "${IN}" text)
set(anchor "/* .maxMeshViewCountNV = */ 4,")
string(FIND "${text}" "${anchor}" first)
if(first EQUAL -1)
  message(FATAL_ERROR "patch_vkfft: '${anchor}' not found in ${IN}; this vkFFT.h needs a new patch")
endif()
set(extra "${anchor}\n\t\t\t\t/* bcvk: glslang 12 EXT mesh/task limits */ 256, 256, 128, 128, 128, 128, 128, 128, 4,")
string(REPLACE "${anchor}" "${extra}" patched "${text}")
string(REGEX MATCHALL "bcvk: glslang 12 EXT" hits "${patched}")
list(LENGTH hits n)
if(NOT n EQUAL 2)
  message(FATAL_ERROR "patch_vkfft: expected 2 resource tables in ${IN}, patched ${n}")
endif()
file(WRITE "${OUT}.tmp" "${patched}")
file(RENAME "${OUT}.tmp" "${OUT}")
