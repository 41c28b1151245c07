include(GNUInstallDirs)
include(CMakePackageConfigHelpers)
install(TARGETS mouse_data EXPORT mouse_dataTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY include/mouse DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT mouse_dataTargets NAMESPACE mouse:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/mouse_data)
configure_package_config_file(cmake/mouse_dataConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/mouse_dataConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/mouse_data)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/mouse_dataConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/mouse_dataConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/mouse_dataConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/mouse_data)
