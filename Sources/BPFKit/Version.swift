/// BPFKit's version, as `bpfkit --version` prints it.
public enum BPFKitVersion {
    /// Semantic version of the library and the command line.
    public static let current = "0.1.0"
}
