// Shared declarations for bcvk's compute shaders.
#extension GL_KHR_shader_subgroup_basic : enable
#extension GL_KHR_shader_subgroup_arithmetic : enable
#ifdef WEIGHT_F16
#extension GL_EXT_shader_16bit_storage : require
#define WEIGHT_T float16_t
#define WEIGHT_VEC4 f16vec4
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#else
#define WEIGHT_T float
#define WEIGHT_VEC4 vec4
#endif
