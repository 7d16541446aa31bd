package httpapi

// OpenWaits returns the long-polls and event streams that hold a slot.
func (s *Server) OpenWaits() int { return s.waits.InUse() }
