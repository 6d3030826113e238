# Findliburing: liburing through pkg-config first, a plain search second.
# Defines liburing::liburing and liburing_FOUND / liburing_VERSION.
include(FindPackageHandleStandardArgs)

find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(PC_LIBURING QUIET liburing)
endif()

find_path(liburing_INCLUDE_DIR NAMES liburing.h HINTS ${PC_LIBURING_INCLUDE_DIRS})
find_library(liburing_LIBRARY NAMES uring HINTS ${PC_LIBURING_LIBRARY_DIRS})
# the version of the headers found (what the compiler sees), where they say it:
# pkg-config's may describe another copy when liburing_INCLUDE_DIR is given
set(liburing_VERSION ${PC_LIBURING_VERSION})
if(liburing_INCLUDE_DIR AND EXISTS ${liburing_INCLUDE_DIR}/liburing/io_uring_version.h)
  file(STRINGS ${liburing_INCLUDE_DIR}/liburing/io_uring_version.h _v REGEX "define IO_URING_VERSION_(MAJOR|MINOR)")
  string(REGEX REPLACE ".*MAJOR ([0-9]+).*MINOR ([0-9]+).*" "\\1.\\2" liburing_VERSION "${_v}")
endif()

find_package_handle_standard_args(liburing
  REQUIRED_VARS liburing_LIBRARY liburing_INCLUDE_DIR
  VERSION_VAR liburing_VERSION)

if(liburing_FOUND AND NOT TARGET liburing::liburing)
  add_library(liburing::liburing UNKNOWN IMPORTED)
  set_target_properties(liburing::liburing PROPERTIES
    IMPORTED_LOCATION ${liburing_LIBRARY}
    INTERFACE_INCLUDE_DIRECTORIES ${liburing_INCLUDE_DIR})
endif()
mark_as_advanced(liburing_INCLUDE_DIR liburing_LIBRARY)
