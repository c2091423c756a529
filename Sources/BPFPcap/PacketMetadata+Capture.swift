import BPFClassic

extension PacketMetadata {
    /// What a filter knows of a captured packet: its wire length, and for
    /// Ethernet captures the protocol and packet type the kernel would derive.
    public static func forCapture(_ packet: CapturedPacket, linkType: Int32, interfaceIndex: UInt32 = 1) -> PacketMetadata {
        if linkType == LinkType.ethernet {
            return .ethernet(packet.bytes, wireLength: packet.wireLength, interfaceIndex: interfaceIndex)
        }
        return PacketMetadata(wireLength: packet.wireLength, interfaceIndex: interfaceIndex)
    }
}
