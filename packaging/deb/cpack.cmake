# `make package` (or `cmake --build build --target package`): a Debian package
# with the binary, the TLS compatibility libraries, the config (a conffile),
# the systemd unit, dashboards and alerts.

install(FILES ${CMAKE_SOURCE_DIR}/config/botwatch.yaml DESTINATION /etc/botwatch)
set(BOTWATCH_CONFFILES "/etc/botwatch/botwatch.yaml\n")
if(EXISTS ${CMAKE_SOURCE_DIR}/config/presets)
  install(DIRECTORY ${CMAKE_SOURCE_DIR}/config/presets DESTINATION /etc/botwatch)
  file(GLOB_RECURSE BOTWATCH_PRESETS RELATIVE ${CMAKE_SOURCE_DIR}/config ${CMAKE_SOURCE_DIR}/config/presets/*)
  foreach(preset ${BOTWATCH_PRESETS})
    string(APPEND BOTWATCH_CONFFILES "/etc/botwatch/${preset}\n")
  endforeach()
endif()
install(FILES ${CMAKE_SOURCE_DIR}/packaging/systemd/botwatch.service DESTINATION /lib/systemd/system)
foreach(dir dashboards alerts)
  if(EXISTS ${CMAKE_SOURCE_DIR}/${dir})
    install(DIRECTORY ${CMAKE_SOURCE_DIR}/${dir}/ DESTINATION share/botwatch/${dir})
  else()
    install(DIRECTORY DESTINATION share/botwatch/${dir})
  endif()
endforeach()
install(FILES ${CMAKE_SOURCE_DIR}/README.md ${CMAKE_SOURCE_DIR}/config/web.example.yml DESTINATION share/doc/botwatch)

set(BOTWATCH_DEB_CONTROL ${CMAKE_BINARY_DIR}/deb-control)
file(WRITE ${BOTWATCH_DEB_CONTROL}/conffiles "${BOTWATCH_CONFFILES}")
foreach(script postinst prerm postrm)
  file(COPY ${CMAKE_SOURCE_DIR}/packaging/deb/${script} DESTINATION ${BOTWATCH_DEB_CONTROL}
       FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
endforeach()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME botwatch)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Prometheus agent for a chatbot: dependency probes and log metrics")
string(CONCAT CPACK_PACKAGE_DESCRIPTION
    "botwatch runs beside a chatbot, probes its dependencies (PostgreSQL, HTTP APIs,\n"
    "Socket.io, processes), turns its structured logs into metrics and serves them\n"
    "to Prometheus, with TLS and basic auth. Runs as a hardened systemd service.")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "botwatch maintainers <botwatch@localhost>")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# libcurl, libpq, hiredis and OpenSSL (libssl3: TLS and basic auth) are loaded with
# dlopen on first use (collectors/lib/lazy_*.cc, base/lazy_*.cc),
# so dpkg-shlibdeps cannot see them: declare them here. tests/packaging/deb_test.sh
# checks this list against the sonames the binary loads.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "passwd, libcurl4, libpq5, libhiredis0.14, libssl3")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${BOTWATCH_DEB_CONTROL}/conffiles;${BOTWATCH_DEB_CONTROL}/postinst;${BOTWATCH_DEB_CONTROL}/prerm;${BOTWATCH_DEB_CONTROL}/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
include(CPack)
