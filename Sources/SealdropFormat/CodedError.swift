/// The shape every sealdrop error shares: a stable `code` that tests and
/// callers compare, and a `message` for people that says what happened and
/// what to do. Two errors are equal when their codes are, so a test can
/// expect a kind of failure without restating its message.
public protocol CodedError: Error, Equatable, CustomStringConvertible {
    associatedtype Code: Equatable
    var code: Code { get }
    var message: String { get }
}

extension CodedError {
    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }

    public var description: String { message }
}
