# cmake -DNAME=n -DINPUT=x.spv -DOUTPUT=x.spv.cpp -P embed_spirv.cmake
file(READ ${INPUT} hex HEX)
string(LENGTH "${hex}" nhex)
math(EXPR rem "${nhex} % 8")
if(nhex EQUAL 0 OR NOT rem EQUAL 0)
  message(FATAL_ERROR "${INPUT} is not a SPIR-V module (size ${nhex} hex digits)")
endif()
# SPIR-V is a stream of little-endian 32-bit words.
string(REGEX REPLACE "(..)(..)(..)(..)" "0x\\4\\3\\2\\1u," words "${hex}")
string(REGEX REPLACE "((0x[0-9a-f]+u,){8})" "\\1\n  " words "${words}")
math(EXPR count "${nhex} / 8")
file(WRITE ${OUTPUT}.tmp "// Generated from ${INPUT}: do not edit.
#include <cstddef>
#include <cstdint>
namespace bcvk::shaders {
extern const uint32_t kSpirv_${NAME}[] = {
  ${words}
};
extern const size_t kSpirvSize_${NAME} = ${count};
}  // namespace bcvk::shaders
")
file(RENAME ${OUTPUT}.tmp ${OUTPUT})
