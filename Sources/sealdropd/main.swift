import SealdropDaemon

SealdropDaemonMain.run()
