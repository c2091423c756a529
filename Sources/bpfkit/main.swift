import BPFCommandLine

BPFKitCommand.main()
