# host.liburing_oldest (cmake -P): uio built and tested against the oldest
# liburing it supports (2.9, trixie's), beside the main build's newest one.
# scripts/bootstrap.sh unpacks that liburing into the cache (never installed);
# this configures uio against it in a build directory of its own, builds the
# library tests and the examples, checks that they load that liburing, and runs
# them with the strict-warnings and compile-fail tests.
#
#   -DSRC=<uio source> -DBIN=<build dir> -DPREFIX=<unpacked liburing>
#   -DGENERATOR=... -DCXX=... -DC=... -DBUILD_TYPE=... -DJOBS=<build jobs>
cmake_minimum_required(VERSION 3.25)

if(NOT EXISTS ${PREFIX}/usr/include/liburing.h)
  message("uio: skipped: no liburing unpacked in ${PREFIX} (scripts/bootstrap.sh unpacks it)")
  return()
endif()
file(GLOB lib ${PREFIX}/usr/lib/*/liburing.so)
if(NOT lib)
  message(FATAL_ERROR "uio: no liburing.so under ${PREFIX}/usr/lib")
endif()

# --fresh: a new cache each run, so that find_package() reports the liburing it
# found (a cached result prints nothing) and nothing of an earlier run is reused
string(TIMESTAMP t0 "%s")
execute_process(
  COMMAND ${CMAKE_COMMAND} --fresh -S ${SRC} -B ${BIN} -G ${GENERATOR}
          -DCMAKE_BUILD_TYPE=${BUILD_TYPE} -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_C_COMPILER=${C}
          -DUIO_INGEST=OFF -DUIO_DOCS=OFF -DUIO_LIBURING_OLDEST= -DUIO_KERNEL_BUILD=
          -Dliburing_INCLUDE_DIR=${PREFIX}/usr/include -Dliburing_LIBRARY=${lib}
  OUTPUT_VARIABLE out ERROR_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "uio: configure against ${PREFIX} failed:\n${out}")
endif()
if(NOT out MATCHES "Found liburing: [^\n]* \\(found suitable version \"([0-9.]+)\"")
  message(FATAL_ERROR "uio: configure did not report liburing's version:\n${out}")
endif()
set(version ${CMAKE_MATCH_1})
message("uio: liburing ${version} from ${PREFIX}")

set(targets uio_host_bpf_objects region_tour readme_quickstart readme_receive)
foreach(t lib_region lib_api lib_lifetime lib_vec lib_bpf lib_liburing)
  list(APPEND targets ${t})
endforeach()
execute_process(
  COMMAND ${CMAKE_COMMAND} --build ${BIN} -j ${JOBS} --target ${targets}
  OUTPUT_VARIABLE out ERROR_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "uio: build against liburing ${version} failed:\n${out}")
endif()
string(TIMESTAMP t1 "%s")
math(EXPR built "${t1} - ${t0}")
message("uio: configured and built in ${built} s")

# the tests must run on that liburing, not the installed one
execute_process(COMMAND ldd ${BIN}/tests/lib_region OUTPUT_VARIABLE out RESULT_VARIABLE rc)
get_filename_component(libdir ${lib} DIRECTORY)
if(NOT out MATCHES "liburing\\.so\\.2 => ${libdir}/")
  message(FATAL_ERROR "uio: lib_region does not load ${libdir}'s liburing:\n${out}")
endif()

execute_process(
  COMMAND ${CMAKE_CTEST_COMMAND} --test-dir ${BIN} --output-on-failure -L host
          -R "^host\\.(lib_[a-z]+|warnings\\..*|compile_fail\\..*|example\\..*)$" -E "_(asan|tsan)$"
  RESULT_VARIABLE rc)
string(TIMESTAMP t2 "%s")
math(EXPR ran "${t2} - ${t1}")
message("uio: tests against liburing ${version} ran in ${ran} s")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "uio: tests against liburing ${version} failed")
endif()
