# Install rules and the Debian package (CPack DEB), included at the end of the top CMakeLists.txt.
#   scripts/package        -> build/p2p-ingest_<version>_<arch>.deb
# Layout (CPACK_PACKAGING_INSTALL_PREFIX is /usr; absolute destinations are taken as they are):
#   /usr/bin/p2p-ingestd, /usr/bin/p2p-sandbox
#   /lib/systemd/system/p2p-ingestd.service
#   /usr/lib/sysusers.d/p2p-ingest.conf, /usr/lib/tmpfiles.d/p2p-ingest.conf
#   /etc/p2p-ingest/p2p-ingest.yaml          (config/example.yaml; a conffile)
#   /usr/share/p2p-ingest/migrations/*.sql   (reference copy: the binary embeds them)
#   /usr/share/doc/p2p-ingest/README.md
# Tests (ctest -L packaging): packaging.unit (systemd-analyze verify + security) and
# packaging.deb (builds the .deb into a temporary directory and checks its layout).

install(TARGETS p2p-ingestd p2p-sandbox RUNTIME DESTINATION bin)
install(FILES ${CMAKE_SOURCE_DIR}/systemd/p2p-ingestd.service DESTINATION /lib/systemd/system)
install(FILES ${CMAKE_SOURCE_DIR}/systemd/p2p-ingest.sysusers
  DESTINATION lib/sysusers.d RENAME p2p-ingest.conf)
install(FILES ${CMAKE_SOURCE_DIR}/systemd/p2p-ingest.tmpfiles
  DESTINATION lib/tmpfiles.d RENAME p2p-ingest.conf)
install(FILES ${CMAKE_SOURCE_DIR}/config/example.yaml
  DESTINATION /etc/p2p-ingest RENAME p2p-ingest.yaml)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/migrations/
  DESTINATION share/p2p-ingest/migrations FILES_MATCHING PATTERN "*.sql")
install(FILES ${CMAKE_SOURCE_DIR}/README.md DESTINATION share/doc/p2p-ingest)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME p2p-ingest)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "p2p-ingest maintainers <p2p-ingest@example.org>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "CMS-0057-F Payer-to-Payer ingestion daemon")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)

set(CPACK_DEBIAN_PACKAGE_NAME p2p-ingest)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${CPACK_PACKAGE_CONTACT}")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://example.org/p2p-ingest")
# CPack writes CPACK_PACKAGE_DESCRIPTION_SUMMARY as the synopsis, then these lines indented.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
  "p2p-ingestd asks each newly enrolled member's prior payer for their records
(OAuth client credentials, Da Vinci HRex $member-match, FHIR Bulk Data export)
and stores them per resource type, recording every step in a SQLite state
database so that a restart neither loses nor doubles a resource. It runs as a
hardened systemd service with a status endpoint and Prometheus metrics.

p2p-sandbox is a local prior-payer server speaking 1upHealth's Payer-to-Payer
API, for testing a configuration.")
# Library dependencies are computed by dpkg-shlibdeps (package dpkg-dev; CPack also needs `file`).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS systemd)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${CMAKE_SOURCE_DIR}/packaging/debian/postinst
  ${CMAKE_SOURCE_DIR}/packaging/debian/prerm
  ${CMAKE_SOURCE_DIR}/packaging/debian/postrm
  ${CMAKE_SOURCE_DIR}/packaging/debian/conffiles)
# Maintainer scripts 0755 and conffiles 0644 whatever their mode in the source tree.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)

add_test(NAME packaging.unit
  COMMAND ${CMAKE_SOURCE_DIR}/tests/packaging/check_unit.sh
          ${CMAKE_SOURCE_DIR}/systemd/p2p-ingestd.service ${CMAKE_BINARY_DIR}/p2p-ingestd)
add_test(NAME packaging.deb
  COMMAND ${CMAKE_SOURCE_DIR}/tests/packaging/check_deb.sh --build ${CMAKE_BINARY_DIR})
set_tests_properties(packaging.unit packaging.deb PROPERTIES LABELS packaging TIMEOUT 120)
