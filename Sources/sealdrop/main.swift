import SealdropCLI

SealdropMain.run()
