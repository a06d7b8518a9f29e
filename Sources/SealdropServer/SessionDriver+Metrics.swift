import SealdropMetrics

extension SessionDriver {
    /// The bounded label of a rejected upload. The rules hand on only the
    /// text the vendor is told; the validation's own failure is remembered
    /// by `validate`, and the rules' own rejections have fixed texts.
    func rejectionKind(_ reason: String) -> DropBoxMetrics.UploadRejection {
        defer { validationFailure = nil }
        if reason == SessionRules.outOfSpace { return .outOfSpace }
        if reason == SessionRules.serverFailure { return .other }
        if reason.hasSuffix(SessionRules.replayRefused) { return .replay }
        if let validationFailure { return validationFailure }
        return .limit
    }
}
