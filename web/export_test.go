package web

// OpenStreams returns the live feeds that hold a slot.
func (s *Server) OpenStreams() int { return s.streams.InUse() }
