import BlendedLatentCommand

BLDCommand.main()
