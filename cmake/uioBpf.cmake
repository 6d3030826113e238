# uio_add_bpf_object(<name> SOURCE <file.bpf.c> VMLINUX_H <file> OUTPUT <file.bpf.o>
#                    [INCLUDES <dir>...])
# Builds a BPF program for the uio BPF stage with clang -target bpf against a
# vmlinux.h of the patched kernel (bpftool btf dump file vmlinux format c),
# and adds target <name> for it.
function(uio_add_bpf_object name)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "SOURCE;VMLINUX_H;OUTPUT" "INCLUDES")
  find_program(UIO_CLANG NAMES clang-19 clang REQUIRED)
  get_filename_component(vmlinux_dir ${arg_VMLINUX_H} DIRECTORY)
  set(includes)
  foreach(dir IN LISTS arg_INCLUDES)
    list(APPEND includes -I${dir})
  endforeach()
  add_custom_command(OUTPUT ${arg_OUTPUT}
    COMMAND ${UIO_CLANG} -O2 -g -Wall -Werror -target bpf -D__TARGET_ARCH_x86
            -isystem ${vmlinux_dir} ${includes} -MD -MF ${arg_OUTPUT}.d
            -c ${arg_SOURCE} -o ${arg_OUTPUT}
    DEPENDS ${arg_SOURCE} ${arg_VMLINUX_H}
    DEPFILE ${arg_OUTPUT}.d
    COMMENT "BPF program ${name}" VERBATIM)
  add_custom_target(${name} DEPENDS ${arg_OUTPUT})
endfunction()
