# uio-ingest in the VM (included by tests/vm/CMakeLists.txt, after the guest
# program lists and before the initramfs is packed): the program built
# statically against the patched uAPI with libbpf, its checksum program for the
# BPF stage, and the guest driver tests/vm/ingest_vm.cpp, which runs serve/send/
# verify over a netdevsim pair on the hardware path, device-less and the
# baseline (vm.ingest) and the README's main job (scripts/run-main.sh).
set(uio_ingest_dir ${PROJECT_SOURCE_DIR}/examples/uio-ingest)
add_executable(guest_uio_ingest ${uio_ingest_dir}/main.cpp ${uio_ingest_dir}/serve.cpp
  ${uio_ingest_dir}/send.cpp ${uio_ingest_dir}/verify.cpp)
target_compile_definitions(guest_uio_ingest PRIVATE UIO_INGEST_HAVE_BPF=1 UIO_INGEST_BPF_DIR="/tests")
target_link_libraries(guest_uio_ingest PRIVATE ${UIO_LIBBPF_STATIC} elf z zstd)
add_executable(guest_ingest_vm ${CMAKE_CURRENT_SOURCE_DIR}/ingest_vm.cpp)
target_compile_definitions(guest_ingest_vm PRIVATE _GNU_SOURCE)
set_target_properties(guest_uio_ingest PROPERTIES OUTPUT_NAME uio-ingest)
set_target_properties(guest_ingest_vm PROPERTIES OUTPUT_NAME ingest_vm)
foreach(prog guest_uio_ingest guest_ingest_vm)
  set_target_properties(${prog} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/guest)
  target_include_directories(${prog} BEFORE PRIVATE ${UIO_KERNEL_HEADERS} ${PROJECT_SOURCE_DIR}/include)
  target_compile_features(${prog} PRIVATE cxx_std_20)
  target_compile_options(${prog} PRIVATE -Wall -Wextra -Werror -O2)
  target_link_options(${prog} PRIVATE -static)
  target_link_libraries(${prog} PRIVATE ${UIO_LIBURING_STATIC} pthread)
  list(APPEND guest_programs $<TARGET_FILE:${prog}>)
  list(APPEND guest_targets ${prog})
endforeach()

set(uio_ingest_bpf ${CMAKE_CURRENT_BINARY_DIR}/guest/ingest_crc.bpf.o)
uio_add_bpf_object(uio_bpf_ingest_crc SOURCE ${uio_ingest_dir}/ingest_crc.bpf.c
  VMLINUX_H ${UIO_BPF_INCLUDE}/vmlinux.h OUTPUT ${uio_ingest_bpf} INCLUDES ${PROJECT_SOURCE_DIR}/bpf)
list(APPEND guest_programs ${uio_ingest_bpf})
list(APPEND guest_targets ${uio_ingest_bpf})

# 32 MiB per path; the disk must hold one run's log
add_test(NAME vm.ingest
  COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/scripts/vm-run.py
          --kernel ${UIO_KERNEL_IMAGE} --initrd ${UIO_INITRAMFS}
          --log ${CMAKE_CURRENT_BINARY_DIR}/logs/ingest.log --test ingest_vm -- 32)
set_tests_properties(vm.ingest PROPERTIES LABELS vm SKIP_RETURN_CODE 77 TIMEOUT 7200)
